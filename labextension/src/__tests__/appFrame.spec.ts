import { describe, expect, it } from 'vitest';
import { appUrl, insertedCell, isFromFrame, themeMessage } from '../appFrame';

describe('appUrl', () => {
  it('points at the server extension route, under any base_url', () => {
    expect(appUrl('http://h:8888/', 'k-1', 'dark')).toBe(
      'http://h:8888/sqlrooms/app/?kernel=k-1&theme=dark'
    );
    expect(appUrl('https://hub/user/alice', 'k', 'light')).toBe(
      'https://hub/user/alice/sqlrooms/app/?kernel=k&theme=light'
    );
  });
});

describe('bridge messages', () => {
  it('reads insert-cell messages and nothing else', () => {
    const code = 'df = duckdb.sql("""select 1""").df()';
    expect(
      insertedCell({ source: 'sqlrooms-app', type: 'insert-cell', code })
    ).toBe(code);
    expect(insertedCell({ source: 'x', type: 'insert-cell', code })).toBeNull();
    expect(
      insertedCell({ source: 'sqlrooms-app', type: 'insert-cell', code: 1 })
    ).toBeNull();
    expect(insertedCell(null)).toBeNull();
  });

  it('accepts messages only from the frame, on the same origin', () => {
    const frame = { contentWindow: {} };
    const origin = 'http://h:8888';
    expect(
      isFromFrame(
        { source: frame.contentWindow as never, origin },
        frame,
        origin
      )
    ).toBe(true);
    expect(isFromFrame({ source: {} as never, origin }, frame, origin)).toBe(
      false
    );
    expect(
      isFromFrame(
        { source: frame.contentWindow as never, origin: 'http://evil' },
        frame,
        origin
      )
    ).toBe(false);
  });

  it('sends the theme in the shape the app reads', () => {
    expect(themeMessage('dark')).toEqual({
      source: 'sqlrooms-jupyter',
      type: 'theme',
      theme: 'dark'
    });
  });
});
