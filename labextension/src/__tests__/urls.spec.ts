import { describe, expect, it } from 'vitest';
import { kernelStatusUrl, kernelsApiUrl } from '../urls';

const local = { baseUrl: 'http://localhost:8888/' };

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
