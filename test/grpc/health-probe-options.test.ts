/** grpcHealthProbe's options: anything but an object is a ConfigurationError naming `options`, not a TypeError. */
import * as grpc from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import { ConfigurationError } from '../../src/index.js';
import { grpcHealthProbe } from '../../src/grpc/index.js';
import { EchoClient } from './support.js';

it('null, a string or a number as options: ConfigurationError naming options', () => {
  const client = new EchoClient('127.0.0.1:1', grpc.credentials.createInsecure());
  try {
    for (const bad of [null, 'svc', 5]) {
      let thrown: unknown;
      try {
        grpcHealthProbe(client, bad as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigurationError);
      expect((thrown as ConfigurationError).field).toBe('options');
    }
  } finally {
    client.close();
  }
});
