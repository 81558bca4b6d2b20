// How ZXing's QR reader finds a code's three corners: the rules of the Java ZXing since 3.4, in
// place of the older ones that @zxing/library (0.23, the JavaScript port) still ships.
//
// Why: the port's reader missed 1 Varco ticket code in 12 (measured on 2,000 random codes in
// clean, upright frames; the same codes failed at every size from 4 to 9 pixels per module), so
// a phone at the door could film such a ticket forever. Open upstream as zxing-js/library#653.
// A ticket's data area can hold a run that looks like a corner (1:1:3:1:1, across and down), and
// the port (1) checks the diagonal too only in "pure barcode" mode, and (2) keeps the
// candidates whose module size is nearest the average and seen most often, which can be the
// stray run rather than a real corner. Java checks the diagonal of every candidate and picks
// the three of similar size that make the most nearly isosceles right triangle. With both,
// 1,984 of those 2,000 codes read upright; camera.js reads every other frame turned by 180°,
// where the rest read (a stray run that is met before the real bottom-left corner, when the
// rows are read from the top, is met after it from the bottom). tests/checkin/
// test_door_decoder.py holds this: every ticket code of a sample reads, and none that the port
// read is lost.
//
// installFinderRules(...) is called once by zxing-qr.js with the port's classes;
// NotFoundException is passed in so that the error thrown is the one the camera loop retries.

/** Replace the port's two rules on FinderPatternFinder.prototype. */
export function installFinderRules(FinderPatternFinder, FinderPattern, NotFoundException) {
  FinderPatternFinder.prototype.selectBestPatterns = bestPatternsSelector(NotFoundException);
  FinderPatternFinder.prototype.handlePossibleCenter =
    possibleCenterHandler(FinderPatternFinder, FinderPattern);
}

/** `selectBestPatterns` for FinderPatternFinder.prototype (uses `this.possibleCenters`). */
function bestPatternsSelector(NotFoundException) {
  return function selectBestPatterns() {
    const centers = this.possibleCenters;
    if (centers.length < 3) throw new NotFoundException();
    centers.sort((a, b) => a.getEstimatedModuleSize() - b.getEstimatedModuleSize());
    let distortion = Infinity;
    let best = null;
    for (let i = 0; i < centers.length - 2; i++) {
      const fi = centers[i];
      const minModuleSize = fi.getEstimatedModuleSize();
      for (let j = i + 1; j < centers.length - 1; j++) {
        const fj = centers[j];
        const squares0 = squaredDistance(fi, fj);
        for (let k = j + 1; k < centers.length; k++) {
          const fk = centers[k];
          // sorted by size: fk is the largest of the three; corners of one code are alike
          if (fk.getEstimatedModuleSize() > minModuleSize * 1.4) continue;
          const [a, b, c] = [squares0, squaredDistance(fj, fk), squaredDistance(fi, fk)]
            .sort((x, y) => x - y);
          // An isosceles right triangle has c = 2a = 2b (squared sides): how far from that.
          const d = Math.abs(c - 2 * b) + Math.abs(c - 2 * a);
          if (d < distortion) {
            distortion = d;
            best = [fi, fj, fk];
          }
        }
      }
    }
    if (best === null) throw new NotFoundException();
    return best;
  };
}

function squaredDistance(a, b) {
  const x = a.getX() - b.getX();
  const y = a.getY() - b.getY();
  return x * x + y * y;
}

/** Whether (centerI, centerJ) is a finder pattern's centre along the diagonal as well. */
function crossCheckDiagonal(image, centerI, centerJ) {
  const counts = [0, 0, 0, 0, 0];
  const maxI = image.getHeight();
  const maxJ = image.getWidth();
  // up and left from the centre: the black centre, the white ring, the black ring
  let i = 0;
  for (const [state, black] of [[2, true], [1, false], [0, true]]) {
    while (centerI >= i && centerJ >= i && image.get(centerJ - i, centerI - i) === black) {
      counts[state]++;
      i++;
    }
    if (counts[state] === 0) return false;
  }
  // down and right: the rest of the centre, the white ring, the black ring
  i = 1;
  for (const [state, black] of [[2, true], [3, false], [4, true]]) {
    while (centerI + i < maxI && centerJ + i < maxJ &&
           image.get(centerJ + i, centerI + i) === black) {
      counts[state]++;
      i++;
    }
    if (counts[state] === 0) return false;
  }
  return foundPatternDiagonal(counts);
}

/** 1:1:3:1:1 within 75 % per run (a diagonal crosses the rings at an angle). */
function foundPatternDiagonal(counts) {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total < 7) return false;
  const moduleSize = total / 7;
  const maxVariance = moduleSize / 1.333;
  return Math.abs(moduleSize - counts[0]) < maxVariance &&
    Math.abs(moduleSize - counts[1]) < maxVariance &&
    Math.abs(3 * moduleSize - counts[2]) < 3 * maxVariance &&
    Math.abs(moduleSize - counts[3]) < maxVariance &&
    Math.abs(moduleSize - counts[4]) < maxVariance;
}

/** `handlePossibleCenter` for FinderPatternFinder.prototype: the port's, with Java's diagonal
 * check (crossCheckDiagonal above) made for every image; the port checks its stricter older one
 * only in "pure barcode" mode. */
function possibleCenterHandler(FinderPatternFinder, FinderPattern) {
  return function handlePossibleCenter(stateCount, i, j) {
    const total = stateCount[0] + stateCount[1] + stateCount[2] + stateCount[3] + stateCount[4];
    let centerJ = FinderPatternFinder.centerFromEnd(stateCount, j);
    const centerI = this.crossCheckVertical(i, Math.floor(centerJ), stateCount[2], total);
    if (isNaN(centerI)) return false;
    centerJ = this.crossCheckHorizontal(Math.floor(centerJ), Math.floor(centerI), stateCount[2],
                                        total);
    if (isNaN(centerJ) ||
        !crossCheckDiagonal(this.image, Math.floor(centerI), Math.floor(centerJ))) return false;
    const moduleSize = total / 7;
    const centers = this.possibleCenters;
    const index = centers.findIndex((c) => c.aboutEquals(moduleSize, centerI, centerJ));
    if (index >= 0) {
      centers[index] = centers[index].combineEstimate(centerI, centerJ, moduleSize);
    } else {
      const point = new FinderPattern(centerJ, centerI, moduleSize);
      centers.push(point);
      if (this.resultPointCallback) this.resultPointCallback.foundPossibleResultPoint(point);
    }
    return true;
  };
}
