/**
 * Asks for the server's token when the app opened without one and cannot connect. The token
 * goes where `#token=` would: the fragment (never sent to the server's logs), which main.tsx
 * picks up on `hashchange`.
 */
import {Button} from '@sqlrooms/ui';
import {useState} from 'react';

export function TokenPrompt() {
  const [token, setToken] = useState('');
  return (
    <form
      className="flex flex-wrap items-center gap-2 border-b bg-amber-50 px-3 py-2 text-sm dark:bg-amber-950"
      aria-label="Token"
      onSubmit={(e) => {
        e.preventDefault();
        const value = token.trim();
        if (value) window.location.hash = `token=${encodeURIComponent(value)}`;
      }}
    >
      <span className="font-medium">This server needs a token.</span>
      <span className="text-muted-foreground text-xs">
        Paste the one sqlrooms-server printed (the part after <code>#token=</code>).
      </span>
      <input
        type="password"
        aria-label="Server token"
        autoComplete="off"
        className="bg-background min-w-0 flex-1 rounded border px-2 py-0.5 text-xs"
        value={token}
        onChange={(e) => setToken(e.target.value)}
      />
      <Button size="xs" type="submit" disabled={!token.trim()}>
        Connect
      </Button>
    </form>
  );
}
