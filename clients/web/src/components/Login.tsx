import { type FormEvent, useState } from "react";
import type { Credentials } from "@gridworks/sdk";
import { credentialsFromPaste } from "../lib/session";

interface Props {
  onLogin: (credentials: Credentials, remember: boolean) => void;
  error: string | null;
  busy: boolean;
}

export function Login({ onLogin, error, busy }: Props) {
  const [keyId, setKeyId] = useState("");
  const [secret, setSecret] = useState("");
  const [remember, setRemember] = useState(true);

  const changeKey = (text: string) => {
    const pasted = credentialsFromPaste(text);
    if (pasted) {
      setKeyId(pasted.keyId);
      setSecret(pasted.secret);
    } else {
      setKeyId(text.trim());
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (keyId && secret) onLogin({ keyId, secret }, remember);
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-label="Log in">
        <div className="brand big"><span className="logo" aria-hidden="true" />GridWorks</div>
        <p className="muted">Log in with an API key.</p>
        <label>
          Key id
          <input name="key_id" autoComplete="username" spellCheck={false} value={keyId}
                 placeholder="gwk_…" onChange={(e) => changeKey(e.target.value)} autoFocus />
        </label>
        <label>
          Secret
          <input name="secret" type="password" autoComplete="current-password" value={secret}
                 onChange={(e) => setSecret(e.target.value)} />
        </label>
        <label className="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
          Stay logged in on this tab
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy || !keyId || !secret}>
          {busy ? "Connecting…" : "Log in"}
        </button>
        <p className="hint">
          <code>gridworks serve</code> prints the demo trader's key id and secret when it first
          starts; they are also in <code>data/credentials/demo.json</code> (paste the file's
          contents into the key field).
        </p>
      </form>
    </main>
  );
}
