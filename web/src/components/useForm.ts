import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { toFormErrors, type FieldErrors } from "../api/problem";
import { useI18n } from "../i18n";

/** What the <form> element, its alert and its submit button need (components/ui.tsx Form, SubmitButton). */
export interface FormBinding {
  formError: string | null;
  submitting: boolean;
  onSubmit: (event: FormEvent<HTMLFormElement>) => void;
  formRef: React.RefObject<HTMLFormElement | null>;
}

/** What a field needs to show and change one value of the form, with the error next to it. */
export interface BoundField<T> {
  name: string;
  value: T;
  onValue: (value: T) => void;
  error: string | undefined;
}

export interface FormState<V extends Record<string, unknown>> extends FormBinding {
  values: V;
  set: <K extends keyof V>(name: K, value: V[K]) => void;
  setValues: (values: V) => void;
  errors: FieldErrors;
  setErrors: (fields: FieldErrors, form?: string | null) => void;
  /** The props binding a field to one value: `<TextField label={…} {...form.field("email")} />`. */
  field: <K extends keyof V & string>(name: K) => BoundField<V[K]>;
}

/**
 * A form that keeps what the user typed whatever happens: a refusal puts the API's messages next
 * to the fields (and focus on the first of them), a lost connection or a 5xx shows a message at
 * the top; the values stay as they were.
 */
export function useForm<V extends Record<string, unknown>>(
  initial: V,
  submit: (values: V) => Promise<void>,
  options: {
    aliases?: Record<string, string>;
    codeFields?: Record<string, string>;
    validate?: (values: V) => FieldErrors;
  } = {},
): FormState<V> {
  const { t } = useI18n();
  const [values, setValues] = useState<V>(initial);
  const [errors, setFieldErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const formRef = useRef<HTMLFormElement | null>(null);

  // "Correct the marked fields" goes away once every marked field was corrected.
  useEffect(() => {
    if (Object.keys(errors).length === 0 && formError === t("error.fix_fields")) setFormError(null);
  }, [errors, formError, t]);

  const set = useCallback(<K extends keyof V>(name: K, value: V[K]) => {
    setValues((current) => ({ ...current, [name]: value }));
    setFieldErrors((current) => {
      if (!(name as string in current)) return current;
      const next = { ...current };
      delete next[name as string];
      return next;
    });
  }, []);

  const focusFirstError = useCallback((fields: FieldErrors) => {
    requestAnimationFrame(() => {
      const form = formRef.current;
      if (!form) return;
      const names = Object.keys(fields);
      const controls = Array.from(form.querySelectorAll<HTMLElement>("[name]"));
      const first = controls.find((control) => names.includes(control.getAttribute("name") ?? ""));
      if (first) first.focus();
      else form.querySelector<HTMLElement>("[data-form-alert]")?.focus();
    });
  }, []);

  const setErrors = useCallback(
    (fields: FieldErrors, form: string | null = null) => {
      setFieldErrors(fields);
      setFormError(form);
      focusFirstError(fields);
    },
    [focusFirstError],
  );

  const onSubmit = useCallback(
    (event: FormEvent<HTMLFormElement>) => {
      event.preventDefault();
      if (submitting) return;
      const local = options.validate?.(values) ?? {};
      if (Object.keys(local).length) {
        setErrors(local, t("error.fix_fields"));
        return;
      }
      setSubmitting(true);
      setFormError(null);
      const known = Array.from(formRef.current?.querySelectorAll("[name]") ?? []).map(
        (element) => element.getAttribute("name") ?? "",
      );
      submit(values)
        .then(() => setFieldErrors({}))
        .catch((error: unknown) => {
          const result = toFormErrors(error, t, { known, aliases: options.aliases, codeFields: options.codeFields });
          setErrors(result.fields, result.form);
        })
        .finally(() => setSubmitting(false));
    },
    [submitting, values, submit, options, t, setErrors],
  );

  const field = <K extends keyof V & string>(name: K): BoundField<V[K]> => ({
    name,
    value: values[name],
    onValue: (value) => set(name, value),
    error: errors[name],
  });

  return { values, set, setValues, errors, formError, submitting, onSubmit, formRef, setErrors, field };
}
