// Errors raised while reading a data set: they always say which file or parameter is at fault.

/** A data file is missing, malformed, or inconsistent with the format it claims. */
export class DatasetError extends Error {
  override name = 'DatasetError';
}
