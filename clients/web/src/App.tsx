import { useCallback, useEffect, useState } from "react";
import { Login } from "./components/Login";
import { Terminal } from "./components/Terminal";
import { type Session, closeSession, openSession, saveCredentials, savedCredentials, serverUrl } from "./lib/session";
import type { Credentials } from "@gridworks/sdk";

/** Login, then the terminal; a saved tab login reconnects by itself on reload. */
export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const login = useCallback(async (credentials: Credentials, remember: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const opened = await openSession(serverUrl(window.location), credentials);
      saveCredentials(window.sessionStorage, remember && "keyId" in credentials ? credentials : null);
      setSession(opened);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  }, []);

  useEffect(() => {
    const saved = savedCredentials(window.sessionStorage);
    if (saved) void login(saved, true);
  }, [login]);

  const logout = useCallback(() => {
    if (session) closeSession(session);
    saveCredentials(window.sessionStorage, null);
    setSession(null);
  }, [session]);

  if (!session) return <Login onLogin={login} error={error} busy={busy} />;
  return <Terminal session={session} onLogout={logout} />;
}
