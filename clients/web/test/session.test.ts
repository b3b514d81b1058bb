import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeServer, KEY, PASSWORD } from "../../sdk/test/fake-server";
import { CONNECT_TIMEOUT_MS, credentialsFromPaste, openSession, savedCredentials, saveCredentials,
         serverUrl } from "../src/lib/session";

afterEach(() => vi.useRealTimers());

describe("the session", () => {
  it("says so when the server cannot be reached, instead of waiting for ever", async () => {
    vi.useFakeTimers();
    const server = new FakeServer();
    server.acceptConnections = false;
    const opening = openSession("ws://nowhere/", KEY, server.factory);
    opening.catch(() => {});
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS + 1);
    await expect(opening).rejects.toThrow("cannot reach the server at ws://nowhere/");
    const attempts = server.sockets.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(server.sockets.length).toBe(attempts); // and stops trying
  });

  it("logs in with a user name and password", async () => {
    const server = new FakeServer();
    server.handlers.set("instruments", () => ({ result: [] }));
    const session = await openSession("ws://test/", { username: "asha", password: PASSWORD }, server.factory);
    expect(session.login.scopes).toContain("trade");
    session.client.close();
    await expect(openSession("ws://test/", { username: "asha", password: "wrong" }, server.factory))
      .rejects.toMatchObject({ code: "BAD_PASSWORD" });
  });

  it("reports a refused key with the server's reason", async () => {
    const server = new FakeServer();
    await expect(openSession("ws://test/", { keyId: KEY.keyId, secret: "nope" }, server.factory))
      .rejects.toMatchObject({ code: "BAD_SIGNATURE" });
  });

  it("finds the API on the page's own port unless told otherwise", () => {
    expect(serverUrl({ protocol: "http:", host: "127.0.0.1:8080", search: "" } as Location)).toBe("ws://127.0.0.1:8080/");
    expect(serverUrl({ protocol: "https:", host: "t.example", search: "" } as Location)).toBe("wss://t.example/");
    expect(serverUrl({ protocol: "http:", host: "x", search: "?server=ws://127.0.0.1:9/" } as Location))
      .toBe("ws://127.0.0.1:9/");
  });

  it("keeps credentials for the tab only when asked, and reads a pasted credentials file", () => {
    saveCredentials(window.sessionStorage, KEY);
    expect(savedCredentials(window.sessionStorage)).toEqual(KEY);
    saveCredentials(window.sessionStorage, null);
    expect(savedCredentials(window.sessionStorage)).toBeNull();
    expect(credentialsFromPaste(JSON.stringify({ name: "demo", key_id: "gwk_1", secret: "s" })))
      .toEqual({ keyId: "gwk_1", secret: "s" });
    expect(credentialsFromPaste("gwk_1")).toBeNull();
  });
});
