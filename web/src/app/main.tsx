import { createRoot } from 'react-dom/client';
import { Session, STORAGE_KEY, webStorageStore } from '../lib/session';
import { App } from '../ui/App';
import '../ui/styles.css';

const session = new Session({
  url: '/graphql',
  fetch: (input, init) => window.fetch(input, init),
  store: webStorageStore(window.localStorage),
});
session.start();

// Another tab signed in, out, or refreshed the tokens.
window.addEventListener('storage', (e) => {
  if (e.key === STORAGE_KEY || e.key === null) session.reload();
});

createRoot(document.getElementById('root')!).render(<App session={session} />);
