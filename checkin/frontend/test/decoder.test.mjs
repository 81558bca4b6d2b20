// The door camera's QR reading (src/zxing-finder.js installed on ZXing's QR reader, frames read
// upright and turned by 180° in turn as src/camera.js does) against ticket codes drawn as the
// PDF draws them. tests/checkin/test_door_decoder.py writes the codes and their QR matrices
// (tickets/documents/qr.py) to the file named by VARCO_DECODER_CODES and runs this file.
// The classes are @zxing/library's CommonJS build, the same release the bundle is built from.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import { installFinderRules } from "../src/zxing-finder.js";

const require = createRequire(import.meta.url);
const ZXing = require("@zxing/library");
const FinderPatternFinder =
  require("@zxing/library/cjs/core/qrcode/detector/FinderPatternFinder.js").default;
const FinderPattern = require("@zxing/library/cjs/core/qrcode/detector/FinderPattern.js").default;

const { width, height, scale, codes } =
  JSON.parse(readFileSync(process.env.VARCO_DECODER_CODES, "utf8"));

/** A camera frame's luminance: the symbol's modules (quiet zone included), black on white. */
function frame(rows) {
  const side = scale * rows.length;
  const left = (width - side) >> 1;
  const top = (height - side) >> 1;
  const luma = new Uint8ClampedArray(width * height).fill(255);
  rows.forEach((row, r) => {
    for (let y = top + r * scale; y < top + (r + 1) * scale; y++) {
      for (let c = 0; c < row.length; c++) {
        if (row[c] === "1") luma.fill(0, y * width + left + c * scale, y * width + left + (c + 1) * scale);
      }
    }
  });
  return luma;
}

function read(luma) {
  const source = new ZXing.RGBLuminanceSource(luma, width, height);
  try {
    return new ZXing.QRCodeReader().decode(new ZXing.BinaryBitmap(new ZXing.HybridBinarizer(source)))
      .getText();
  } catch (error) {
    if (error instanceof ZXing.NotFoundException || error instanceof ZXing.ChecksumException ||
        error instanceof ZXing.FormatException) return null;
    throw error;
  }
}

const port = {
  selectBestPatterns: FinderPatternFinder.prototype.selectBestPatterns,
  handlePossibleCenter: FinderPatternFinder.prototype.handlePossibleCenter,
};

test("every ticket code reads upright or turned, and none the port read is lost", () => {
  const frames = codes.map(({ rows }) => frame(rows));
  Object.assign(FinderPatternFinder.prototype, port);
  const byPort = frames.map(read);
  installFinderRules(FinderPatternFinder, FinderPattern, ZXing.NotFoundException);
  const upright = frames.map(read);
  const turned = frames.map((luma) => read(luma.slice().reverse()));
  const count = (texts) => texts.filter((text, i) => text === codes[i].code).length;
  console.log(`of ${codes.length} codes: the port read ${count(byPort)} upright; ` +
              `with Java's rules ${count(upright)} upright, ${count(turned)} turned`);
  codes.forEach(({ code }, i) => {
    if (byPort[i] === code) assert.equal(upright[i], code, `the port read ${code}, now lost`);
    assert.ok(upright[i] === code || turned[i] === code, `${code} reads neither way`);
    for (const text of [upright[i], turned[i]]) {
      assert.ok(text === null || text === code, `${code} read as ${text}`);
    }
  });
});
