// Camera scanning with ZXing (@zxing/browser's camera loop around the QR code reader only;
// see zxing-qr.js for why and how the other formats stay out of the bundle). Cameras need a
// secure context (HTTPS or localhost); without one the page falls back to the keyboard-wedge
// field.
import { BrowserQRCodeReader } from "@zxing/browser/esm/readers/BrowserQRCodeReader.js";

export class Camera {
  constructor(video, onCode) {
    this.video = video;
    this.onCode = onCode;
    this.controls = null;
    this.reader = new BrowserQRCodeReader(undefined, { delayBetweenScanAttempts: 80 });
  }

  static available() {
    return Boolean(window.isSecureContext && navigator.mediaDevices &&
                   navigator.mediaDevices.getUserMedia);
  }

  get running() {
    return this.controls !== null;
  }

  async start() {
    if (this.controls) return;
    const constraints = { video: { facingMode: "environment" }, audio: false };
    this.controls = await this.reader.decodeFromConstraints(constraints, this.video,
      (result) => {
        if (result) this.onCode(result.getText());
      });
  }

  stop() {
    if (this.controls) this.controls.stop();
    this.controls = null;
  }
}
