import { useSyncExternalStore } from 'react';
import type { Session } from '../lib/session';
import { Chat } from './Chat';
import { SignIn } from './SignIn';

export function App({ session }: { session: Session }) {
  const current = useSyncExternalStore(
    (l) => session.subscribe(l),
    () => session.value,
  );
  if (!current) return <SignIn session={session} />;
  // Keyed by user: signing in as someone else starts from a clean state.
  return <Chat key={current.user.id} session={session} />;
}
