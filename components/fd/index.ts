export * from './failure-detector-port.js';
export { failureDetectorMessages } from './failure-detector-messages.js';
export { EventuallyPerfectFailureDetector, type FailureDetectorInit } from './failure-detector.js';
