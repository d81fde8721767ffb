import fs from 'node:fs';
import path from 'node:path';

/**
 * The folder holding package.json: the clone when the TypeScript runs through tsx, and the same
 * folder (one level up from dist/) when the compiled JavaScript runs (`npm run build`, the image).
 * Files that are not compiled (console/dist, package.json) are found from here, never from
 * `__dirname`, whose depth differs between the two.
 */
function findProjectRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findProjectRoot();
