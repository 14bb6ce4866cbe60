import {describe, expect, it} from 'vitest';
import {appDirectory, connectionFor, jupyterBase, takeToken, tokenFromHash} from './connection';

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

  it('takes an explicit ?ws= in development and adds the token', () => {
    const dev = {allowWsParam: true};
    expect(
      connectionFor(at('http://localhost:5173/?ws=ws://127.0.0.1:4000/#token=t'), dev).wsUrl,
    ).toBe('ws://127.0.0.1:4000/?token=t');
  });

  it('ignores ?ws= in a production build, under Jupyter and standalone', () => {
    const jupyter = connectionFor(
      at(`http://localhost:8888/sqlrooms/app/?kernel=${KERNEL}&ws=ws://evil.example/`),
    );
    expect(jupyter.wsUrl).toBe(`ws://localhost:8888/sqlrooms/kernels/${KERNEL}/ws`);
    const standalone = connectionFor(
      at('http://127.0.0.1:4000/app/?ws=ws://evil.example/#token=t'),
    );
    expect(standalone.wsUrl).toBe('ws://127.0.0.1:4000/ws/duckdb?token=t');
  });

  it('uses the saved token when the fragment has none', () => {
    const c = connectionFor(at('http://127.0.0.1:4000/app/'), {savedToken: 'kept'});
    expect(c.wsUrl).toBe('ws://127.0.0.1:4000/ws/duckdb?token=kept');
    const fresh = connectionFor(at('http://127.0.0.1:4000/app/#token=new'), {savedToken: 'old'});
    expect(fresh.wsUrl).toBe('ws://127.0.0.1:4000/ws/duckdb?token=new');
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

describe('takeToken', () => {
  const memory = () => {
    const items = new Map<string, string>();
    return {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
    };
  };
  const history = () => {
    const urls: string[] = [];
    return {
      urls,
      state: null,
      replaceState: (_s: unknown, _t: string, url?: string | URL | null) =>
        void urls.push(String(url)),
    };
  };

  it('removes the token from the address and keeps it for a reload', () => {
    const storage = memory();
    const h = history();
    expect(takeToken(at('http://127.0.0.1:4000/app/?x=1#token=abc&theme=dark'), storage, h)).toBe(
      'abc',
    );
    expect(h.urls).toEqual(['/app/?x=1#theme=dark']);
    const after = history();
    expect(takeToken(at('http://127.0.0.1:4000/app/?x=1'), storage, after)).toBe('abc');
    expect(after.urls).toEqual([]);
  });

  it('works without storage and leaves an address without a token alone', () => {
    const h = history();
    expect(takeToken(at('http://127.0.0.1:4000/app/#token=t'), null, h)).toBe('t');
    expect(h.urls).toEqual(['/app/']);
    const none = history();
    expect(takeToken(at('http://127.0.0.1:4000/app/#theme=dark'), memory(), none)).toBeNull();
    expect(none.urls).toEqual([]);
  });
});
