/** The GridWorks TypeScript SDK: no browser or React Native imports, only a WebSocket. */

export * from "./generated";
export * from "./protocol";
export * from "./errors";
export * from "./client";
export * from "./channel";
export * from "./depth";
export * from "./candles";
export * from "./money";
export * from "./signing";
export * from "./backoff";
export * from "./feeds";
export { crc32Ascii, depthChecksum } from "./crc32";
export { hex, hmacSha256, sha256, utf8 } from "./sha256";
