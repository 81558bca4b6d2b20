// The part of ZXing (@zxing/library) that the door page uses: the QR code reader and what
// @zxing/browser's camera loop needs around it. The build (build.mjs) resolves every
// `import … from "@zxing/library"` to this file, because the library's index pulls in every
// barcode format (Aztec, Data Matrix, PDF417, the 1D codes, the encoders): the index's modules
// are not marked free of side effects, so no bundler can drop them, and they were 87 % of a
// 526 KB bundle. Varco tickets and pairing links are QR codes only.
//
// Why ZXing rather than another decoder: it is the library the page already trusted, it is
// still released (0.23, ported from the reference Java ZXing), @zxing/browser gives a tested
// camera loop (stream start/stop, throttled decoding, device enumeration), and its QR reader
// decodes every version and error-correction level, inverted codes included. jsQR would be
// smaller but has had no release since 2021; BarcodeDetector is missing from desktop Linux
// Chromium and Firefox, so a decoder in JS is needed anyway.
export { default as ArgumentException } from "@zxing/library/esm/core/ArgumentException.js";
export { default as BinaryBitmap } from "@zxing/library/esm/core/BinaryBitmap.js";
export { default as ChecksumException } from "@zxing/library/esm/core/ChecksumException.js";
export { default as DecodeHintType } from "@zxing/library/esm/core/DecodeHintType.js";
export { default as FormatException } from "@zxing/library/esm/core/FormatException.js";
export { default as HybridBinarizer } from "@zxing/library/esm/core/common/HybridBinarizer.js";
export { default as IllegalArgumentException } from
  "@zxing/library/esm/core/IllegalArgumentException.js";
export { default as InvertedLuminanceSource } from
  "@zxing/library/esm/core/InvertedLuminanceSource.js";
export { default as LuminanceSource } from "@zxing/library/esm/core/LuminanceSource.js";
export { default as NotFoundException } from "@zxing/library/esm/core/NotFoundException.js";
export { default as QRCodeReader } from "@zxing/library/esm/core/qrcode/QRCodeReader.js";

// The port's finder rules replaced by Java ZXing's (why: zxing-finder.js). Done here, where the
// bundle's one copy of the QR reader is chosen, so that every reader the page makes has them.
import FinderPattern from "@zxing/library/esm/core/qrcode/detector/FinderPattern.js";
import FinderPatternFinder from "@zxing/library/esm/core/qrcode/detector/FinderPatternFinder.js";
import NotFound from "@zxing/library/esm/core/NotFoundException.js";
import { installFinderRules } from "./zxing-finder.js";

installFinderRules(FinderPatternFinder, FinderPattern, NotFound);
