/**
 * Asks for the server's token when the app opened without one, or with one the server refused.
 * The token goes where `#token=` would: the fragment (never sent to the server's logs), which
 * main.tsx picks up on `hashchange`.
 */
import {Button} from '@sqlrooms/ui';
import {useState} from 'react';

export function TokenPrompt({refused}: {refused: boolean}) {
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
      <span className="font-medium" role={refused ? 'alert' : undefined}>
        {refused ? 'That token was refused — try again.' : 'This server needs a token.'}
      </span>
      <span className="text-muted-foreground text-xs">
        sqlrooms-server printed a link ending in <code>#token=…</code>: open it, or paste the part
        after <code>#token=</code>. An operator who set the token chose it: it is in the file of{' '}
        <code>--auth-token-file</code> or in <code>$SQLROOMS_AUTH_TOKEN</code>.
      </span>
      <input
        type="password"
        aria-label="Server token"
        autoComplete="off"
        autoFocus={refused}
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
