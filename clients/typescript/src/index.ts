export * from './client.js';
export * from './errors.js';
export * from './version.js';
export type * from './generated/types.js';
