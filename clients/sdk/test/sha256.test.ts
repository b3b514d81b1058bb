import { createHash, createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hex, hmacSha256, sha256, utf8 } from "../src/sha256";
import { signLogin } from "../src/signing";

describe("sha256", () => {
  it("matches the FIPS 180-4 examples", () => {
    expect(hex(sha256(utf8("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hex(sha256(utf8("")))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hex(sha256(utf8("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))))
      .toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  it("agrees with node's implementation on any input, across block boundaries", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      expect(hex(sha256(bytes))).toBe(createHash("sha256").update(bytes).digest("hex"));
    }), { numRuns: 300 });
  });
});

describe("utf8", () => {
  it("encodes like TextEncoder, surrogates included", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => {
      expect(Array.from(utf8(text))).toEqual(Array.from(new TextEncoder().encode(text)));
    }));
  });
});

describe("hmacSha256", () => {
  it("matches RFC 4231 test case 2", () => {
    expect(hex(hmacSha256(utf8("Jefe"), utf8("what do ya want for nothing?"))))
      .toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });

  it("agrees with node's implementation, long keys included", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (key, msg) => {
      expect(hex(hmacSha256(key, msg))).toBe(createHmac("sha256", key).update(msg).digest("hex"));
    }), { numRuns: 200 });
  });
});

describe("signLogin", () => {
  it("gives the documented test vector", () => {
    const args = signLogin({ keyId: "gwk_3f9c2a7d81e04b6c9a5d2e10", secret: "q5WcV0c3x2mYb1Kf8nR4tLhZ9pQeA7sD6uJ0vXwGkE8" },
                           1764146712000, "9f8e7d6c5b4a3921");
    expect(args).toEqual({
      key_id: "gwk_3f9c2a7d81e04b6c9a5d2e10", timestamp: 1764146712000, nonce: "9f8e7d6c5b4a3921",
      signature: "2a8848150dbefdf488add3fc99dbbc29b785cdbd7f62e09a744f67a131f268cb",
    });
  });
});
