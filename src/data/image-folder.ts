// An image folder: one sub-folder per class (class names sorted), images anywhere below it.
// Optionally split at the top: `train/` and `test/` (or `val/`), each with the class sub-folders.
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DatasetError } from './errors.js';

export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

export interface ImageListing {
  files: string[];
  labels: Int32Array;
}

export interface FolderLayout {
  classes: string[];
  train: ImageListing;
  test?: ImageListing;
}

const TEST_SPLIT_NAMES = ['test', 'val'];

async function subdirectories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((e: Error) => {
    throw new DatasetError(`cannot list image folder ${dir}: ${e.message}`);
  });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

/** Image files under `dir`, recursively, in sorted path order. */
async function imagesUnder(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) files.push(...(await imagesUnder(full)));
    else if (e.isFile() && isImageFile(e.name)) files.push(full);
  }
  return files;
}

async function listSplit(dir: string, classes: readonly string[]): Promise<ImageListing> {
  const present = await subdirectories(dir);
  const unknown = present.filter((c) => !classes.includes(c));
  if (unknown.length > 0) {
    throw new DatasetError(`${dir} has class folders not present in the train split: ${unknown.join(', ')}`);
  }
  const files: string[] = [];
  const labels: number[] = [];
  for (const name of present) {
    const label = classes.indexOf(name);
    for (const file of await imagesUnder(join(dir, name))) {
      files.push(file);
      labels.push(label);
    }
  }
  return { files, labels: Int32Array.from(labels) };
}

/** Lists the images and labels of an image folder without decoding anything. */
export async function listImageFolder(dir: string): Promise<FolderLayout> {
  const top = await subdirectories(dir);
  const testName = TEST_SPLIT_NAMES.find((n) => top.includes(n));
  const split = top.length === 2 && top.includes('train') && testName !== undefined;
  const trainDir = split ? join(dir, 'train') : dir;
  const classes = await subdirectories(trainDir);
  if (classes.length === 0) throw new DatasetError(`image folder ${trainDir} has no class sub-folders`);
  const train = await listSplit(trainDir, classes);
  if (train.files.length === 0) {
    throw new DatasetError(`image folder ${trainDir} has no .jpg/.jpeg/.png/.webp files in its class folders`);
  }
  const test = split ? await listSplit(join(dir, testName!), classes) : undefined;
  return { classes, train, test };
}
