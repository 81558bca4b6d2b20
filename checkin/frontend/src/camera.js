// Camera scanning with ZXing (@zxing/browser's camera loop around the QR code reader only;
// see zxing-qr.js for why and how the other formats stay out of the bundle). Cameras need a
// secure context (HTTPS, or http://localhost / 127.0.0.1); without one the page says so and
// falls back to the keyboard-wedge field.
import { BrowserCodeReader } from "@zxing/browser/esm/readers/BrowserCodeReader.js";
import { BrowserQRCodeReader } from "@zxing/browser/esm/readers/BrowserQRCodeReader.js";
import { t } from "./i18n.js";

// How ZXing's camera loop takes each frame (its one hook for it), for two reasons:
// - every other frame is read turned by 180°: a ticket whose data holds a corner-like run met
//   before the real bottom-left corner, reading from the top, is read from the bottom
//   (zxing-finder.js; tests/checkin/test_door_decoder.py);
// - the loop sizes its canvas once, from the video when the camera starts; a phone turned
//   sideways then sends frames of another shape, which would be cut. The canvas follows the
//   video instead.
let turned = false;
BrowserCodeReader.drawImageOnCanvas = (context, video) => {
  const canvas = context.canvas;
  const width = video.videoWidth || canvas.width;
  const height = video.videoHeight || canvas.height;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  turned = !turned;
  if (turned) context.setTransform(-1, 0, 0, -1, width, height);
  else context.setTransform(1, 0, 0, 1, 0, 0);
  context.drawImage(video, 0, 0);
};

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

// --- the page's camera controls (door.js wires them) ---------------------------------------------

/** Say in `el` why the camera cannot scan (Camera.problem/failure), in the page's language;
 * kept in data-problem so that a language switch can say it again (cameraNote(el, el.dataset
 * .problem)). */
export function cameraNote(el, problem) {
  el.dataset.problem = problem || "";
  el.textContent = problem ? t(`camera_${problem}`) : "";
}

/** The door's camera button: films into `video` and hands each code read to `onCode`; says in
 * `note` why it cannot. */
export class CameraToggle {
  constructor({ video, button, note, onCode }) {
    Object.assign(this, { video, button, note, onCode });
    this.camera = null;
  }

  async toggle() {
    const problem = Camera.problem();
    if (problem) {
      cameraNote(this.note, problem);
      return;
    }
    if (!this.camera) this.camera = new Camera(this.video, this.onCode);
    if (this.camera.running) {
      this.stop();
      return;
    }
    try {
      this.video.hidden = false;
      cameraNote(this.note, null);
      await this.camera.start();
      this.button.textContent = t("camera_stop");
    } catch (error) {
      this.video.hidden = true;
      cameraNote(this.note, Camera.failure(error));
    }
  }

  stop() {
    if (this.camera) this.camera.stop();
    this.video.hidden = true;
    this.button.textContent = t("camera_start");
  }
}

/** Pairing by filming a pairing link's QR code: `onLink(text)` with the first text that
 * `isLink`, the camera then stopped; `note` says why the camera cannot. */
export function filmPairingLink(video, note, isLink, onLink) {
  const problem = Camera.problem();
  if (problem) {
    cameraNote(note, problem);
    return;
  }
  const camera = new Camera(video, (text) => {
    if (isLink(text)) {
      camera.stop();
      video.hidden = true;
      onLink(text);
    }
  });
  video.hidden = false;
  camera.start().catch((error) => {
    video.hidden = true;
    cameraNote(note, Camera.failure(error));
  });
}
