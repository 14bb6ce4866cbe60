import {describe, expect, it} from 'vitest';
import {appDirectory, connectionFor, jupyterBase, tokenFromHash} from './connection';

const at = (href: string) => {
  const u = new URL(href);
  return {protocol: u.protocol, host: u.host, pathname: u.pathname, search: u.search, hash: u.hash};
};
const KERNEL = '0f4c9d1e-1a2b-4c3d-8e9f-0123456789ab';

describe('connectionFor', () => {
  it('relays through Jupyter for ?kernel=', () => {
    expect(connectionFor(at(`http://localhost:8888/sqlrooms/app/?kernel=${KERNEL}`))).toEqual({
      mode: 'kernel',
      kernelId: KERNEL,
      wsUrl: `ws://localhost:8888/sqlrooms/kernels/${KERNEL}/ws`,
    });
  });

  it('keeps a JupyterHub base_url and uses wss under https', () => {
    const c = connectionFor(
      at(`https://hub.example.org/user/alice/sqlrooms/app/index.html?kernel=${KERNEL}`),
    );
    expect(c.wsUrl).toBe(`wss://hub.example.org/user/alice/sqlrooms/kernels/${KERNEL}/ws`);
  });

  it('refuses a kernel id that could change the path', () => {
    expect(() => connectionFor(at('http://h/sqlrooms/app/?kernel=..%2F..%2Fapi'))).toThrow();
  });

  it('connects a standalone server on the same origin with the token from the fragment', () => {
    expect(connectionFor(at('http://127.0.0.1:4000/app/#token=s3cr%2Bt'))).toEqual({
      mode: 'standalone',
      wsUrl: 'ws://127.0.0.1:4000/ws/duckdb?token=s3cr%2Bt',
      hasToken: true,
    });
  });

  it('connects without a token when none is given', () => {
    expect(connectionFor(at('http://127.0.0.1:4000/app/'))).toEqual({
      mode: 'standalone',
      wsUrl: 'ws://127.0.0.1:4000/ws/duckdb',
      hasToken: false,
    });
  });

  it('follows a proxy prefix in front of the standalone server', () => {
    expect(connectionFor(at('https://x.org/proxy/4000/app/index.html')).wsUrl).toBe(
      'wss://x.org/proxy/4000/ws/duckdb',
    );
  });

  it('takes an explicit ?ws= and adds the token', () => {
    expect(connectionFor(at('http://localhost:5173/?ws=ws://127.0.0.1:4000/#token=t')).wsUrl).toBe(
      'ws://127.0.0.1:4000/?token=t',
    );
  });
});

describe('helpers', () => {
  it('finds the app directory and the Jupyter base', () => {
    expect(appDirectory('/user/a/sqlrooms/app/index.html')).toBe('/user/a/sqlrooms/app/');
    expect(jupyterBase('/user/a/sqlrooms/app/')).toBe('/user/a/');
    expect(jupyterBase('/app/')).toBeNull();
  });

  it('reads the token from the fragment only', () => {
    expect(tokenFromHash('#token=abc&x=1')).toBe('abc');
    expect(tokenFromHash('')).toBeNull();
  });
});
