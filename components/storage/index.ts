export * from './storage-port.js';
export { SimDisk, type FlushHook } from './sim-disk.js';
export { SimStorage, type SimStorageInit } from './sim-storage.js';
