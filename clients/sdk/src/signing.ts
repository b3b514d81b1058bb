/**
 * The login signature: lowercase hex HMAC-SHA256, under the key's secret, of
 * `key_id + "\n" + timestamp_ms + "\n" + nonce` in UTF-8 (docs/websocket-api.md, login).
 */

import type { LoginArgs } from "./generated";
import { hex, hmacSha256, utf8 } from "./sha256";

/** An API key (signed logins). */
export interface KeyCredentials {
  keyId: string;
  secret: string;
}

/** A user's name and password (the server checks an argon2id hash). */
export interface PasswordCredentials {
  username: string;
  password: string;
}

export type Credentials = KeyCredentials | PasswordCredentials;

export function isPasswordCredentials(c: Credentials): c is PasswordCredentials {
  return "username" in c;
}

export function signLogin(credentials: KeyCredentials, timestampMs: number, nonce: string): LoginArgs {
  const message = `${credentials.keyId}\n${timestampMs}\n${nonce}`;
  const signature = hex(hmacSha256(utf8(credentials.secret), utf8(message)));
  return { key_id: credentials.keyId, timestamp: timestampMs, nonce, signature };
}

type RandomFill = (bytes: Uint8Array) => Uint8Array;

/** 16 hex characters from the platform's cryptographic generator. */
export function randomNonce(fill: RandomFill = platformRandom()): string {
  return hex(fill(new Uint8Array(8)));
}

/** A fresh client order id: 1-36 characters of `A-Z a-z 0-9 _ . : -`. */
export function newClientOrderId(prefix = "sdk", fill: RandomFill = platformRandom()): string {
  const safePrefix = prefix.replace(/[^A-Za-z0-9_.:-]/g, "").slice(0, 12) || "sdk";
  return `${safePrefix}-${hex(fill(new Uint8Array(8)))}`;
}

function platformRandom(): RandomFill {
  const crypto = (globalThis as { crypto?: { getRandomValues?: RandomFill } }).crypto;
  if (!crypto?.getRandomValues) {
    throw new Error("no crypto.getRandomValues on this platform: pass a nonce source to the client");
  }
  return (bytes) => crypto.getRandomValues!(bytes);
}
