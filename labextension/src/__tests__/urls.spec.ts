import { describe, expect, it } from 'vitest';
import { kernelStatusUrl, kernelsApiUrl, kernelWebSocketUrl } from '../urls';

const local = {
  baseUrl: 'http://localhost:8888/',
  wsUrl: 'ws://localhost:8888/',
  token: ''
};

describe('REST addresses', () => {
  it('lists kernels under the base URL', () => {
    expect(kernelsApiUrl(local)).toBe(
      'http://localhost:8888/sqlrooms/api/kernels'
    );
  });

  it('keeps a base path and adds a missing trailing slash', () => {
    expect(kernelsApiUrl({ baseUrl: 'https://hub.example/user/ann' })).toBe(
      'https://hub.example/user/ann/sqlrooms/api/kernels'
    );
  });

  it('addresses one kernel by its id, encoded', () => {
    expect(kernelStatusUrl(local, 'abc-123')).toBe(
      'http://localhost:8888/sqlrooms/api/kernels/abc-123'
    );
    expect(kernelStatusUrl(local, 'a/b c')).toBe(
      'http://localhost:8888/sqlrooms/api/kernels/a%2Fb%20c'
    );
  });
});

describe('WebSocket address', () => {
  it('has no query string without a token', () => {
    expect(kernelWebSocketUrl(local, 'k1')).toBe(
      'ws://localhost:8888/sqlrooms/kernels/k1/ws'
    );
  });

  it('carries the token, encoded, in the query string', () => {
    expect(
      kernelWebSocketUrl(
        {
          baseUrl: 'https://hub.example/user/ann/',
          wsUrl: 'wss://hub.example/user/ann/',
          token: 'a+b/c='
        },
        'k1'
      )
    ).toBe(
      'wss://hub.example/user/ann/sqlrooms/kernels/k1/ws?token=a%2Bb%2Fc%3D'
    );
  });
});
