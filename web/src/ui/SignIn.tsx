import { useId, useState, type FormEvent } from 'react';
import { GqlError } from '../lib/graphql';
import { LOGIN, REGISTER } from '../lib/operations';
import type { Session } from '../lib/session';
import type { AuthPayload } from '../lib/types';
import { describeError } from '../app/controller';

type Mode = 'signin' | 'register';

export function SignIn({ session }: { session: Session }) {
  const [mode, setMode] = useState<Mode>('signin');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ text: string; field?: string } | null>(null);
  const id = useId();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const data =
        mode === 'register'
          ? await session.anonymous<{ register: AuthPayload }>(REGISTER, { username, password }).then((d) => d.register)
          : await session.anonymous<{ login: AuthPayload }>(LOGIN, { username, password }).then((d) => d.login);
      session.signIn(data);
    } catch (err) {
      let text = describeError(err);
      let field: string | undefined;
      if (err instanceof GqlError) {
        field = err.field;
        if (err.code === 'CONFLICT') {
          text = 'That username is taken.';
          field = 'username';
        } else if (err.code === 'UNAUTHENTICATED') text = 'Wrong username or password.';
      }
      setError({ text, field });
      setBusy(false);
    }
  }

  const title = mode === 'signin' ? 'Sign in' : 'Create an account';
  return (
    <main className="signin">
      <form className="signin-card" onSubmit={submit} aria-labelledby={`${id}-title`} noValidate>
        <h1 className="brand">chatgql</h1>
        <h2 id={`${id}-title`}>{title}</h2>
        <label htmlFor={`${id}-user`}>Username</label>
        <input
          id={`${id}-user`}
          name="username"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          required
          minLength={3}
          maxLength={32}
          aria-invalid={error?.field === 'username' || undefined}
          aria-describedby={error ? `${id}-err` : undefined}
          autoFocus
        />
        <label htmlFor={`${id}-pass`}>Password</label>
        <input
          id={`${id}-pass`}
          name="password"
          type="password"
          autoComplete={mode === 'register' ? 'new-password' : 'current-password'}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
          minLength={mode === 'register' ? 8 : 1}
          maxLength={128}
          aria-invalid={error?.field === 'password' || undefined}
          aria-describedby={error ? `${id}-err` : mode === 'register' ? `${id}-hint` : undefined}
        />
        {mode === 'register' && (
          <p id={`${id}-hint`} className="hint">
            3–32 letters, digits, “_”, “.” or “-” for the username; 8 or more characters for the password.
          </p>
        )}
        {error && (
          <p id={`${id}-err`} className="error" role="alert">
            {error.text}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || !username || !password}>
          {busy ? 'Please wait…' : mode === 'signin' ? 'Sign in' : 'Register'}
        </button>
        <p className="switch">
          {mode === 'signin' ? 'No account yet?' : 'Already registered?'}{' '}
          <button
            type="button"
            className="link"
            onClick={() => {
              setMode(mode === 'signin' ? 'register' : 'signin');
              setError(null);
            }}
          >
            {mode === 'signin' ? 'Register' : 'Sign in'}
          </button>
        </p>
      </form>
    </main>
  );
}
