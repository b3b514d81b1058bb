import { type FormEvent, useState } from "react";
import type { Credentials } from "@gridworks/sdk";
import { credentialsFromPaste } from "../lib/session";

interface Props {
  onLogin: (credentials: Credentials, remember: boolean) => void;
  error: string | null;
  busy: boolean;
}

type Mode = "key" | "password";

export function Login({ onLogin, error, busy }: Props) {
  const [mode, setMode] = useState<Mode>("key");
  const [first, setFirst] = useState(""); // key id or user name
  const [second, setSecret] = useState(""); // secret or password
  const [remember, setRemember] = useState(true);

  const changeFirst = (text: string) => {
    const pasted = mode === "key" ? credentialsFromPaste(text) : null;
    if (pasted && "keyId" in pasted) {
      setFirst(pasted.keyId);
      setSecret(pasted.secret);
    } else {
      setFirst(text.trim());
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!first || !second) return;
    // A password is never kept in the browser; a key only when asked, for this tab.
    if (mode === "key") onLogin({ keyId: first, secret: second }, remember);
    else onLogin({ username: first, password: second }, false);
  };

  const switchTo = (next: Mode) => {
    setMode(next);
    setFirst("");
    setSecret("");
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-label="Log in">
        <div className="brand big"><span className="logo" aria-hidden="true" />GridWorks</div>
        <div className="tabs login-modes" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "key"} className={mode === "key" ? "active" : ""}
                  onClick={() => switchTo("key")}>API key</button>
          <button type="button" role="tab" aria-selected={mode === "password"}
                  className={mode === "password" ? "active" : ""} onClick={() => switchTo("password")}>Password</button>
        </div>
        <label>
          {mode === "key" ? "Key id" : "User name"}
          <input name={mode === "key" ? "key_id" : "username"} autoComplete="username" spellCheck={false}
                 value={first} placeholder={mode === "key" ? "gwk_…" : ""}
                 onChange={(e) => changeFirst(e.target.value)} autoFocus />
        </label>
        <label>
          {mode === "key" ? "Secret" : "Password"}
          <input name={mode === "key" ? "secret" : "password"} type="password" autoComplete="current-password"
                 value={second} onChange={(e) => setSecret(e.target.value)} />
        </label>
        {mode === "key" && (
          <label className="check">
            <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
            Stay logged in on this tab
          </label>
        )}
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy || !first || !second}>
          {busy ? "Connecting…" : "Log in"}
        </button>
        <p className="hint">
          {mode === "key" ? <>
            <code>gridworks serve</code> prints the demo trader's key id and secret when it first
            starts; they are also in <code>data/credentials/demo.json</code> (paste the file's
            contents into the key field).
          </> : <>
            Users are made with <code>gridworks accounts user ACCOUNT NAME</code> (the password
            on standard input).
          </>}
        </p>
      </form>
    </main>
  );
}
