// Streams a .tar.gz and keeps only the members we ask for, so a data set archive never has to be
// extracted to disk (or held in memory whole).
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { DatasetError } from './errors.js';

/**
 * Reads the members of a gzipped tarball whose names `wanted` accepts (called with the member's
 * path inside the archive) and returns their contents by that path.
 */
export async function readTarGzMembers(
  archivePath: string,
  wanted: (memberPath: string) => boolean,
  signal?: AbortSignal,
): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  const extractor = extract();
  extractor.on('entry', (header, stream, next) => {
    const keep = (header.type === 'file' || header.type === 'contiguous-file') && wanted(header.name);
    if (!keep) {
      stream.on('end', () => next());
      stream.resume();
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on('end', () => {
      found.set(header.name, Buffer.concat(chunks));
      next();
    });
    stream.on('error', (e: Error) => next(e));
  });
  try {
    await pipeline(createReadStream(archivePath), createGunzip(), extractor, { signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new DatasetError(`cannot read archive ${archivePath}: ${(e as Error).message}`);
  }
  return found;
}
