import {describe, expect, it} from 'vitest';
import {nameParts, visibleName} from './names';

describe('names with invisible characters', () => {
  it('escapes zero-width and bidi characters, leaving the rest', () => {
    expect(visibleName('trips\u200b')).toBe('trips\\u200b');
    expect(visibleName('\u202espirt')).toBe('\\u202espirt');
    expect(visibleName('café 名前')).toBe('café 名前');
    expect(nameParts('a\u2066b')).toEqual([
      {text: 'a', escaped: false},
      {text: '\\u2066', escaped: true},
      {text: 'b', escaped: false},
    ]);
  });
});
