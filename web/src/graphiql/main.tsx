import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { GraphiQL } from 'graphiql';
import { createRoot } from 'react-dom/client';
import { createFetcher } from './fetcher';

const DEFAULT_QUERY = `# Paste {"Authorization": "Bearer <accessToken>"} in the Headers pane below.
# The access token comes from the login or register mutation.

query Me {
  me {
    id
    username
  }
}
`;

const fetcher = createFetcher();

createRoot(document.getElementById('graphiql')!).render(
  <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} defaultEditorToolsVisibility="headers" />,
);
