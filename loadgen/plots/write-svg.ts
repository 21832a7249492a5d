import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `svg` to `path`, creating the directory first. */
export async function writeSvg(path: string, svg: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, svg, 'utf8');
}
