import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import { describeError, type ChatController } from '../app/controller';
import { discoverRooms, myRooms, searchResults, type RoomSummary } from '../state/chat';
import { useStore } from './hooks';
import { plural } from './format';

export function RoomList({
  ctl,
  activeRoomId,
  onOpen,
}: {
  ctl: ChatController;
  activeRoomId: string | null;
  onOpen: (roomId: string) => void;
}) {
  const id = useId();
  const rooms = useStore(ctl.store, (s) => s.rooms);
  const search = useStore(ctl.store, (s) => s.search);
  const discoverIds = useStore(ctl.store, (s) => s.discoverIds);
  const me = useStore(ctl.store, (s) => s.me);
  const [query, setQuery] = useState(search.query);
  const [newName, setNewName] = useState('');
  const [createError, setCreateError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const debounce = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => () => {
    if (debounce.current) clearTimeout(debounce.current);
  }, []);

  const mine = useMemo(() => myRooms({ rooms }), [rooms]);
  const others = useMemo(() => discoverRooms({ rooms, discoverIds }), [rooms, discoverIds]);
  const results = useMemo(() => searchResults({ rooms, search }), [rooms, search]);

  function onSearch(value: string) {
    setQuery(value);
    if (debounce.current) clearTimeout(debounce.current);
    debounce.current = setTimeout(() => void ctl.search(value), value.trim() ? 250 : 0);
  }

  async function onCreate(e: FormEvent) {
    e.preventDefault();
    const name = newName.trim();
    if (!name) return;
    setCreating(true);
    setCreateError(null);
    try {
      const room = await ctl.createRoom(name);
      setNewName('');
      onOpen(room.id);
    } catch (err) {
      setCreateError(describeError(err));
    } finally {
      setCreating(false);
    }
  }

  const searching = results !== null && query.trim() !== '';
  return (
    <div className="roomlist">
      <form className="search" role="search" onSubmit={(e) => { e.preventDefault(); void ctl.search(query); }}>
        <label htmlFor={`${id}-search`}>Search rooms</label>
        <input
          id={`${id}-search`}
          type="search"
          value={query}
          placeholder="Room name"
          onChange={(e) => onSearch(e.target.value)}
          autoComplete="off"
        />
      </form>

      {searching ? (
        <section aria-labelledby={`${id}-results`}>
          <h2 id={`${id}-results`} className="section-title">
            Search results
          </h2>
          {results.length === 0 ? (
            <p className="muted">No rooms match “{search.query}”.</p>
          ) : (
            <RoomItems ctl={ctl} rooms={results} activeRoomId={activeRoomId} onOpen={onOpen} meId={me?.id} />
          )}
        </section>
      ) : (
        <>
          <section aria-labelledby={`${id}-mine`}>
            <h2 id={`${id}-mine`} className="section-title">
              Your rooms
            </h2>
            {mine.length === 0 ? (
              <p className="muted">You have not joined any room yet.</p>
            ) : (
              <RoomItems ctl={ctl} rooms={mine} activeRoomId={activeRoomId} onOpen={onOpen} meId={me?.id} />
            )}
          </section>
          {others.length > 0 && (
            <section aria-labelledby={`${id}-others`}>
              <h2 id={`${id}-others`} className="section-title">
                Other rooms
              </h2>
              <RoomItems ctl={ctl} rooms={others} activeRoomId={activeRoomId} onOpen={onOpen} meId={me?.id} />
            </section>
          )}
        </>
      )}

      <form className="create" onSubmit={onCreate}>
        <label htmlFor={`${id}-create`}>New room name</label>
        <div className="row">
          <input
            id={`${id}-create`}
            value={newName}
            maxLength={80}
            onChange={(e) => setNewName(e.target.value)}
            aria-describedby={createError ? `${id}-create-err` : undefined}
            aria-invalid={createError ? true : undefined}
          />
          <button type="submit" disabled={creating || !newName.trim()}>
            Create
          </button>
        </div>
        {createError && (
          <p id={`${id}-create-err`} className="error" role="alert">
            {createError}
          </p>
        )}
      </form>
    </div>
  );
}

function RoomItems({
  ctl,
  rooms,
  activeRoomId,
  onOpen,
  meId,
}: {
  ctl: ChatController;
  rooms: RoomSummary[];
  activeRoomId: string | null;
  onOpen: (roomId: string) => void;
  meId: string | undefined;
}) {
  return (
    <ul className="rooms">
      {rooms.map((r) => (
        <RoomItem key={r.id} ctl={ctl} room={r} active={r.id === activeRoomId} onOpen={onOpen} meId={meId} />
      ))}
    </ul>
  );
}

function RoomItem({
  ctl,
  room,
  active,
  onOpen,
  meId,
}: {
  ctl: ChatController;
  room: RoomSummary;
  active: boolean;
  onOpen: (roomId: string) => void;
  meId: string | undefined;
}) {
  const [joining, setJoining] = useState(false);
  const last = room.lastMessage;
  const preview = last ? `${last.author.id === meId ? 'You' : last.author.username}: ${last.content}` : 'No messages yet';
  return (
    <li className={`room${active ? ' active' : ''}`} data-room-id={room.id} data-room-name={room.name}>
      <button
        type="button"
        className="room-open"
        onClick={() => onOpen(room.id)}
        aria-current={active ? 'page' : undefined}
      >
        <span className="room-line">
          <span className="room-name">{room.name}</span>
          {room.unread > 0 && (
            <span className="badge" aria-label={plural(room.unread, 'unread message', 'unread messages')}>
              {room.unread}
            </span>
          )}
        </span>
        <span className="room-meta">{plural(room.memberCount, 'member', 'members')}</span>
        <span className="room-preview">{preview}</span>
      </button>
      {!room.isMember && (
        <button
          type="button"
          className="join"
          disabled={joining}
          aria-label={`Join ${room.name}`}
          onClick={async () => {
            setJoining(true);
            try {
              await ctl.joinRoom(room.id);
              onOpen(room.id);
            } catch (e) {
              ctl.store.dispatch({ type: 'notice', text: describeError(e) });
            } finally {
              setJoining(false);
            }
          }}
        >
          Join
        </button>
      )}
    </li>
  );
}
