// LSB init-script status codes, in a file of their own: the library's entry exports them without loading the rest.

/** LSB init-script status codes; 150 is from the range LSB leaves to applications: up, but no worker is. */
export const LSB = { running: 0, deadWithPidfile: 1, notRunning: 3, unknown: 4, noWorkerUp: 150 } as const;
