import { readFileSync } from 'node:fs';
import { assertPrivateFile, PrivateFileError } from '../components/private-file.js';
import { AccessTokens, TokenFileError } from '../frontend/access-tokens.js';
import type { HttpTls } from '../frontend/http-frontend.js';
import { ConfigError, type NodeConfig } from './node-config.js';

/**
 * Reads a file that holds a secret (a token file, a private key), refusing it, as ssh does,
 * when anyone but its owner may read or write it.
 */
export function readSecretFile(path: string, what: string): Buffer {
  try {
    assertPrivateFile(path, what);
  } catch (error) {
    if (error instanceof PrivateFileError) throw new ConfigError(error.message);
    throw error;
  }
  return readPublicFile(path, what);
}

function readPublicFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${what} ${path}: ${(error as Error).message}`);
  }
}

/** What the client port needs from the files a node's settings name. */
export interface HttpSecurity {
  readonly tls?: HttpTls;
  readonly tokens?: AccessTokens;
}

/** Reads the certificate, key, CA and token files named by `config`; ConfigError if unusable. */
export function loadHttpSecurity(config: NodeConfig): HttpSecurity {
  const files = config.httpTls;
  const tls: HttpTls | undefined =
    files === undefined
      ? undefined
      : {
          cert: readPublicFile(files.certFile, '--cert-file'),
          key: readSecretFile(files.keyFile, '--key-file'),
          clientCertAuth: files.clientCertAuth,
          ...(files.trustedCaFile === undefined
            ? {}
            : { ca: readPublicFile(files.trustedCaFile, '--trusted-ca-file') }),
        };
  let tokens: AccessTokens | undefined;
  if (config.tokenFile !== undefined) {
    const text = readSecretFile(config.tokenFile, '--token-file').toString('utf8');
    try {
      tokens = AccessTokens.parse(text);
    } catch (error) {
      if (error instanceof TokenFileError) {
        throw new ConfigError(`--token-file ${config.tokenFile}: ${error.message}`);
      }
      throw error;
    }
  }
  return {
    ...(tls === undefined ? {} : { tls }),
    ...(tokens === undefined ? {} : { tokens }),
  };
}
