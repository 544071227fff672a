import { useEffect, useState } from 'react';
import { ChatController } from '../app/controller';
import type { Session } from '../lib/session';
import { startRealtime } from '../realtime/realtime';
import { useRoute, useStore } from './hooks';
import { RoomList } from './RoomList';
import { RoomView } from './RoomView';

const STATUS_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  stopped: 'Offline',
} as const;

export function Chat({ session }: { session: Session }) {
  const [ctl, setCtl] = useState<ChatController | null>(null);
  const [roomId, navigate] = useRoute();

  useEffect(() => {
    const c = new ChatController(session, { startRealtime: (s, h) => startRealtime(s, h) });
    setCtl(c);
    void c.start();
    return () => c.stop();
  }, [session]);

  useEffect(() => {
    if (ctl) void ctl.openRoom(roomId);
  }, [ctl, roomId]);

  if (!ctl) return null;
  return <ChatLayout ctl={ctl} session={session} roomId={roomId} navigate={navigate} />;
}

function ChatLayout({
  ctl,
  session,
  roomId,
  navigate,
}: {
  ctl: ChatController;
  session: Session;
  roomId: string | null;
  navigate: (id: string | null) => void;
}) {
  const me = useStore(ctl.store, (s) => s.me);
  const connection = useStore(ctl.store, (s) => s.connection);
  const notice = useStore(ctl.store, (s) => s.notice);
  // The tab title shows the open room and how many messages wait unread elsewhere. Selected
  // as a string, so a new message re-renders this layout only when the title changes.
  const title = useStore(ctl.store, (s) => {
    let unread = 0;
    for (const r of Object.values(s.rooms)) if (r.isMember) unread += r.unread;
    const name = roomId ? s.rooms[roomId]?.name : undefined;
    return `${unread ? `(${unread}) ` : ''}${name ? `${name} · ` : ''}chatgql`;
  });
  useEffect(() => {
    document.title = title;
  }, [title]);

  return (
    <div className="chat" data-view={roomId ? 'room' : 'list'}>
      <header className="topbar">
        <span className="brand">chatgql</span>
        <span className={`conn conn-${connection}`} role="status" aria-label={`Realtime: ${STATUS_TEXT[connection]}`}>
          <span className="dot" aria-hidden="true" />
          {STATUS_TEXT[connection]}
        </span>
        <span className="spacer" />
        <a href="/graphiql" className="toplink">
          GraphiQL
        </a>
        <span className="me" data-testid="me">
          {me?.username}
        </span>
        <button type="button" onClick={() => session.signOut()}>
          Sign out
        </button>
      </header>
      {notice && (
        <div className="notice" role="alert" key={notice.id}>
          <span>{notice.text}</span>
          <button type="button" className="link" onClick={() => ctl.store.dispatch({ type: 'notice', text: null })}>
            Dismiss
          </button>
        </div>
      )}
      <aside className="sidebar" aria-label="Rooms">
        <RoomList ctl={ctl} activeRoomId={roomId} onOpen={navigate} />
      </aside>
      <main className="main">
        {roomId ? (
          <RoomView key={roomId} ctl={ctl} roomId={roomId} onBack={() => navigate(null)} />
        ) : (
          <div className="empty">
            <p>Pick a room on the left, search for one, or create a new one.</p>
          </div>
        )}
      </main>
    </div>
  );
}
