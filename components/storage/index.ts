export * from './storage-port.js';
export { SimDisk, type FlushHook } from './sim-disk.js';
export { SimStorage, simStorageLeaf, type SimStorageInit } from './sim-storage.js';
