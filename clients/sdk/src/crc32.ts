/**
 * CRC-32 (IEEE 802.3, as zlib computes it) and the depth checksum the server sends with
 * every depth message: bids best first as `price:qty` joined by `|`, then `#`, then asks best
 * first the same way, in ASCII. An empty book is `#`.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of an ASCII string (the checksum string has nothing else). */
export function crc32Ascii(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    crc = TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The checksum of a book given as [price, qty] levels, each side best first. */
export function depthChecksum(bids: Iterable<readonly [number, number]>,
                              asks: Iterable<readonly [number, number]>): number {
  const side = (levels: Iterable<readonly [number, number]>) =>
    Array.from(levels, ([price, qty]) => `${price}:${qty}`).join("|");
  return crc32Ascii(`${side(bids)}#${side(asks)}`);
}
