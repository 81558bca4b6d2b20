// Camera scanning with ZXing (@zxing/browser's camera loop around the QR code reader only;
// see zxing-qr.js for why and how the other formats stay out of the bundle). Cameras need a
// secure context (HTTPS, or http://localhost / 127.0.0.1); without one the page says so and
// falls back to the keyboard-wedge field.
import { BrowserQRCodeReader } from "@zxing/browser/esm/readers/BrowserQRCodeReader.js";

export class Camera {
  constructor(video, onCode) {
    this.video = video;
    this.onCode = onCode;
    this.controls = null;
    this.reader = new BrowserQRCodeReader(undefined, { delayBetweenScanAttempts: 80 });
  }

  /**
   * Why the camera cannot be used here, before trying: "insecure" (plain HTTP on a host other
   * than localhost: browsers keep cameras to secure contexts, window.isSecureContext),
   * "unsupported" (no getUserMedia), or null. 127.0.0.1 and localhost are secure contexts.
   */
  static problem() {
    if (!window.isSecureContext) return "insecure";
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return "unsupported";
    return null;
  }

  /** Why start() failed, from the browser's error: "denied", "missing" or "unavailable". */
  static failure(error) {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" ||
        name === "PermissionDeniedError") return "denied";
    if (name === "NotFoundError" || name === "OverconstrainedError" ||
        name === "DevicesNotFoundError") return "missing";
    return "unavailable";
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
