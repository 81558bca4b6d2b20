// A badge's PDF drawn onto canvases with pdf.js, so that the page prints it as its own
// content: printing a PDF inside a frame needs the browser's PDF viewer (absent in kiosk and
// headless set-ups, where printing a PDF frame crashes the tab) and a frame-src for blob: URLs
// the CSP does not give. The worker is pdf.js's own file, built next to this bundle.
import { GlobalWorkerOptions, getDocument } from "pdfjs-dist";

const DPI = 300; // label printers print at 300 dpi; sheets look sharp at it too
const POINTS_PER_INCH = 72;
const MM_PER_POINT = 25.4 / POINTS_PER_INCH;

export function useWorker(url) {
  GlobalWorkerOptions.workerSrc = url;
}

/** The pages of `data` (a PDF's bytes) as canvases, and the first page's size in mm. */
export async function renderPdf(data) {
  // isEvalSupported: no `new Function` (the CSP refuses it and pdf.js would log an error).
  const document_ = await getDocument({ data, isEvalSupported: false }).promise;
  try {
    const canvases = [];
    let size = null;
    for (let number = 1; number <= document_.numPages; number += 1) {
      const page = await document_.getPage(number);
      const base = page.getViewport({ scale: 1 });
      if (!size) size = { width: base.width * MM_PER_POINT, height: base.height * MM_PER_POINT };
      const viewport = page.getViewport({ scale: DPI / POINTS_PER_INCH });
      const canvas = document.createElement("canvas");
      canvas.width = Math.ceil(viewport.width);
      canvas.height = Math.ceil(viewport.height);
      await page.render({ canvas, canvasContext: canvas.getContext("2d"), viewport }).promise;
      canvases.push(canvas);
    }
    return { canvases, size };
  } finally {
    await document_.destroy();
  }
}
