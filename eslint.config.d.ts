// Types for the one export of eslint.config.js that a test reads.
export declare const layers: readonly string[];
declare const config: unknown;
export default config;
