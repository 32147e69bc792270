import type { ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import { SessionProvider, useSession } from "./auth/session";
import { AppLayout, PublicLayout } from "./components/Layout";
import { Alert, Loading, PageTitle } from "./components/ui";
import { I18nProvider, useI18n } from "./i18n";
import { ActivationPage } from "./pages/Activation";
import { ContractDetailsPage } from "./pages/ContractDetails";
import { ContractsPage } from "./pages/Contracts";
import { DashboardPage } from "./pages/Dashboard";
import { DocumentsPage } from "./pages/Documents";
import { InvoicesPage } from "./pages/Invoices";
import { LoginPage } from "./pages/Login";
import { LoginEmailConfirmationPage } from "./pages/LoginContact";
import { EInvoiceConfirmationPage, ProfilePage } from "./pages/Profile";
import { RequestsPage } from "./pages/Requests";
import { SchedulePage } from "./pages/Schedule";
import { SubAccountsPage } from "./pages/SubAccounts";
import { PaymentReturnPage } from "./pages/PaymentReturn";
import { httpPayments } from "./api/payments";
import { PaymentsProvider } from "./payments/PayButton";

function RequireAuth({ children }: { children: ReactNode }) {
  const { status } = useSession();
  const location = useLocation();
  if (status === "loading") {
    return (
      <PublicLayout>
        <Loading />
      </PublicLayout>
    );
  }
  if (status === "anonymous") return <Navigate to="/logowanie" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

/** A screen the person's scopes do not allow: said plainly instead of an empty page. */
function RequireScope({ scopes, children }: { scopes: string[]; children: ReactNode }) {
  const { can } = useSession();
  const { t } = useI18n();
  if (scopes.some(can)) return <>{children}</>;
  return (
    <>
      <PageTitle>{t("access.denied_title")}</PageTitle>
      <Alert tone="warning">{t("access.denied")}</Alert>
    </>
  );
}

function NotFoundPage() {
  const { t } = useI18n();
  return (
    <>
      <PageTitle>{t("error.page_not_found_title")}</PageTitle>
      <p>{t("error.page_not_found")}</p>
    </>
  );
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/logowanie" element={<LoginPage />} />
      <Route path="/aktywacja" element={<ActivationPage />} />
      <Route
        path="/profil/e-faktura/potwierdzenie"
        element={
          <PublicLayout>
            <EInvoiceConfirmationPage />
          </PublicLayout>
        }
      />
      <Route
        path="/potwierdz-email"
        element={
          <PublicLayout>
            <LoginEmailConfirmationPage />
          </PublicLayout>
        }
      />
      <Route
        element={
          <RequireAuth>
            <AppLayout />
          </RequireAuth>
        }
      >
        <Route index element={<DashboardPage />} />
        <Route
          path="umowy"
          element={
            <RequireScope scopes={["contracts:read"]}>
              <ContractsPage />
            </RequireScope>
          }
        />
        <Route
          path="umowy/:contractId"
          element={
            <RequireScope scopes={["contracts:read"]}>
              <ContractDetailsPage />
            </RequireScope>
          }
        />
        <Route
          path="umowy/:contractId/harmonogram"
          element={
            <RequireScope scopes={["contracts:read"]}>
              <SchedulePage />
            </RequireScope>
          }
        />
        <Route
          path="faktury"
          element={
            <RequireScope scopes={["invoices:read"]}>
              <InvoicesPage />
            </RequireScope>
          }
        />
        <Route
          path="platnosci/powrot"
          element={
            <RequireScope scopes={["payments:create", "invoices:read"]}>
              <PaymentReturnPage />
            </RequireScope>
          }
        />
        <Route
          path="dokumenty"
          element={
            <RequireScope scopes={["documents:read"]}>
              <DocumentsPage />
            </RequireScope>
          }
        />
        <Route
          path="wnioski"
          element={
            <RequireScope scopes={["requests:read", "requests:create"]}>
              <RequestsPage />
            </RequireScope>
          }
        />
        <Route
          path="wnioski/:requestId"
          element={
            <RequireScope scopes={["requests:read"]}>
              <RequestsPage />
            </RequireScope>
          }
        />
        <Route
          path="profil"
          element={
            <RequireScope scopes={["profile:read"]}>
              <ProfilePage />
            </RequireScope>
          }
        />
        <Route
          path="subkonta"
          element={
            <RequireScope scopes={["subaccounts:manage"]}>
              <SubAccountsPage />
            </RequireScope>
          }
        />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

export function App() {
  return (
    <I18nProvider>
      <BrowserRouter>
        <SessionProvider>
          <PaymentsProvider client={httpPayments}>
            <AppRoutes />
          </PaymentsProvider>
        </SessionProvider>
      </BrowserRouter>
    </I18nProvider>
  );
}
