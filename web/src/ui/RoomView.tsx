import { useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { describeError, type ChatController } from '../app/controller';
import { typingUsers, type ChatMessage } from '../state/chat';
import { useNow, useStore } from './hooks';
import { formatTime, plural, typingText } from './format';

export function RoomView({ ctl, roomId, onBack }: { ctl: ChatController; roomId: string; onBack: () => void }) {
  const room = useStore(ctl.store, (s) => s.rooms[roomId]);
  const me = useStore(ctl.store, (s) => s.me);
  const [busy, setBusy] = useState(false);
  const headingRef = useRef<HTMLHeadingElement>(null);

  // Opening a room puts focus where the user continues: the composer on wide screens (type at
  // once), the heading on narrow ones (announced by screen readers, no on-screen keyboard pops up).
  const canWrite = !!room?.isMember;
  useEffect(() => {
    const wide = window.matchMedia?.('(min-width: 768px)').matches ?? true;
    const composer = document.querySelector<HTMLTextAreaElement>('.composer textarea');
    if (wide && composer) composer.focus({ preventScroll: true });
    else headingRef.current?.focus({ preventScroll: true });
  }, [roomId, canWrite]);

  async function act(f: () => Promise<void>) {
    setBusy(true);
    try {
      await f();
    } catch (e) {
      ctl.store.dispatch({ type: 'notice', text: describeError(e) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="roomview" aria-labelledby="room-title">
      <header className="room-header">
        <button type="button" className="back" onClick={onBack} aria-label="Back to rooms">
          <span aria-hidden="true">←</span>
        </button>
        <div className="room-title">
          <h1 id="room-title" ref={headingRef} tabIndex={-1}>
            {room?.name ?? 'Loading…'}
          </h1>
          {room && (
            <p className="room-sub">
              <span data-testid="member-count">{plural(room.memberCount, 'member', 'members')}</span>
              <OnlineList ctl={ctl} roomId={roomId} meId={me?.id} />
            </p>
          )}
        </div>
        {room?.isMember && (
          <button type="button" disabled={busy} onClick={() => act(() => ctl.leaveRoom(roomId))}>
            Leave
          </button>
        )}
      </header>
      {!room ? null : room.isMember ? (
        <>
          <MessageList ctl={ctl} roomId={roomId} meId={me?.id} />
          <TypingIndicator ctl={ctl} roomId={roomId} />
          <Composer ctl={ctl} roomId={roomId} roomName={room.name} />
        </>
      ) : (
        <div className="not-member">
          <p>You are not a member of this room. Join it to read and send messages.</p>
          <button type="button" className="primary" disabled={busy} onClick={() => act(() => ctl.joinRoom(roomId))}>
            Join {room.name}
          </button>
        </div>
      )}
    </section>
  );
}

function OnlineList({ ctl, roomId, meId }: { ctl: ChatController; roomId: string; meId: string | undefined }) {
  const online = useStore(ctl.store, (s) => s.online[roomId]);
  const supported = useStore(ctl.store, (s) => s.onlineSupported);
  if (!supported || !online) return null;
  const names = online.map((u) => (u.id === meId ? `${u.username} (you)` : u.username));
  return (
    <span className="online" data-testid="online">
      <span className="sep" aria-hidden="true">
        {' · '}
      </span>
      <span className="dot live" aria-hidden="true" /> Online: {names.length ? names.join(', ') : 'nobody'}
    </span>
  );
}

function MessageList({ ctl, roomId, meId }: { ctl: ChatController; roomId: string; meId: string | undefined }) {
  const rm = useStore(ctl.store, (s) => s.messages[roomId]);
  const items = rm?.items;
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const olderAnchor = useRef<{ height: number; top: number } | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [announce, setAnnounce] = useState('');
  const lastAnnounced = useRef<string | null>(null);

  async function loadOlder() {
    const el = scroller.current;
    if (!el || loadingOlder) return;
    olderAnchor.current = { height: el.scrollHeight, top: el.scrollTop };
    setLoadingOlder(true);
    const loaded = await ctl.loadOlder(roomId);
    setLoadingOlder(false);
    if (!loaded) olderAnchor.current = null;
  }

  function onScroll() {
    const el = scroller.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 40 && rm?.hasOlder && !loadingOlder) void loadOlder();
  }

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (olderAnchor.current) {
      // Keep the message that was at the top in place after older ones were prepended.
      el.scrollTop = el.scrollHeight - olderAnchor.current.height + olderAnchor.current.top;
      olderAnchor.current = null;
      return;
    }
    const last = items?.[items.length - 1];
    if (stick.current || (last && last.author.id === meId && last.status !== 'sent')) {
      el.scrollTop = el.scrollHeight;
      stick.current = true;
    }
  }, [items, meId]);

  // Announce new messages from others to screen readers (not the history that loads).
  useEffect(() => {
    if (!items || !rm?.loaded) return;
    const confirmed = items.filter((m) => m.status === 'sent');
    const newest = confirmed[confirmed.length - 1];
    if (!newest) return;
    if (lastAnnounced.current === null) {
      lastAnnounced.current = newest.id;
      return;
    }
    if (newest.id !== lastAnnounced.current) {
      lastAnnounced.current = newest.id;
      if (newest.author.id !== meId) setAnnounce(`${newest.author.username}: ${newest.content}`);
    }
  }, [items, rm?.loaded, meId]);

  return (
    <>
      <div className="messages" ref={scroller} onScroll={onScroll} tabIndex={0} role="region" aria-label="Messages">
        {rm?.hasOlder && (
          <div className="older">
            <button type="button" className="link" onClick={() => void loadOlder()} disabled={loadingOlder}>
              {loadingOlder ? 'Loading…' : 'Load older messages'}
            </button>
          </div>
        )}
        {!rm?.loaded && !items?.length ? (
          <p className="muted center">Loading messages…</p>
        ) : items && items.length === 0 ? (
          <p className="muted center">No messages yet. Say hello!</p>
        ) : null}
        <ol className="msgs" data-testid="messages">
          {items?.map((m) => (
            // One key per send, so a confirmed message replaces its "Sending…" copy in place.
            <MessageItem key={m.clientId ? `c:${m.author.id}:${m.clientId}` : m.id} m={m} mine={m.author.id === meId} ctl={ctl} />
          ))}
        </ol>
      </div>
      <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="announcer">
        {announce}
      </div>
    </>
  );
}

function MessageItem({ m, mine, ctl }: { m: ChatMessage; mine: boolean; ctl: ChatController }) {
  return (
    <li
      className={`msg${mine ? ' mine' : ''} status-${m.status}`}
      data-id={m.status === 'sent' ? m.id : undefined}
      data-client-id={m.clientId ?? undefined}
      data-status={m.status}
    >
      <div className="msg-head">
        <span className="author">{mine ? 'You' : m.author.username}</span>
        <time dateTime={m.createdAt}>{formatTime(m.createdAt)}</time>
      </div>
      <div className="content">{m.content}</div>
      {m.status === 'pending' && <div className="msg-status">Sending…</div>}
      {m.status === 'failed' && (
        <div className="msg-status failed" role="alert">
          Not sent{m.error ? `: ${m.error}` : ''}.{' '}
          <button type="button" className="link" onClick={() => void ctl.retry(m.roomId, m.clientId!)}>
            Retry
          </button>
        </div>
      )}
    </li>
  );
}

function TypingIndicator({ ctl, roomId }: { ctl: ChatController; roomId: string }) {
  const typing = useStore(ctl.store, (s) => s.typing[roomId]);
  const active = !!typing && Object.keys(typing).length > 0;
  const now = useNow(active, 250);
  const names = useMemo(
    () => (typing ? typingUsers({ typing: { [roomId]: typing } }, roomId, now).map((u) => u.username) : []),
    [typing, roomId, now],
  );
  useEffect(() => {
    if (active && typing && Object.values(typing).some((e) => e.until <= now)) {
      ctl.store.dispatch({ type: 'typingExpired', now });
    }
  }, [active, typing, now, ctl]);
  return (
    <div className="typing" data-testid="typing" aria-hidden={names.length === 0}>
      {typingText(names)}
    </div>
  );
}

function Composer({ ctl, roomId, roomName }: { ctl: ChatController; roomId: string; roomName: string }) {
  const id = useId();
  const [text, setText] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);
  const tooLong = text.trim().length > 4000;

  function send() {
    const content = text.trim();
    if (!content || tooLong) return;
    setText('');
    void ctl.send(roomId, content);
    ref.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  }

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <label htmlFor={`${id}-msg`} className="sr-only">
        Message {roomName}
      </label>
      <textarea
        id={`${id}-msg`}
        ref={ref}
        rows={1}
        value={text}
        placeholder={`Message ${roomName}`}
        aria-describedby={`${id}-help`}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim()) ctl.typing(roomId);
        }}
        onKeyDown={onKeyDown}
      />
      <button type="submit" className="primary" disabled={!text.trim() || tooLong}>
        Send
      </button>
      <p id={`${id}-help`} className="sr-only">
        Enter sends, Shift+Enter starts a new line.
      </p>
      {tooLong && (
        <p className="error" role="alert">
          Messages are limited to 4000 characters.
        </p>
      )}
    </form>
  );
}
