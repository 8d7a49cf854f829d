/** Resolves to 127.0.0.1 in the tests' Chromium; pages served under it are not a secure context. */
export declare const INTRANET_HOST: string;
export declare const CHROMIUM_ARGS: string[];
export declare function findChromium(): string | undefined;
