/**
 * An e-mailed link works once: the same token is never posted twice, however often the page
 * renders; only a failure `mayAskAgain` accepts (no verdict on the link yet) lets it be posted again.
 */
export function oncePerToken<T>(
  post: (token: string) => Promise<T>,
  mayAskAgain: (error: unknown) => boolean = () => false,
): (token: string | null) => Promise<T> {
  const answers = new Map<string, Promise<T>>();
  return (token) => {
    if (!token) return Promise.reject(new Error("no token"));
    let answer = answers.get(token);
    if (!answer) {
      answer = post(token);
      answers.set(token, answer);
      answer.catch((error: unknown) => {
        if (mayAskAgain(error)) answers.delete(token);
      });
    }
    return answer;
  };
}
