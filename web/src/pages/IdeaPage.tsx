// One idea. While it is in ideation it is a full-screen conversation; from specification on it becomes a
// dashboard: the conversation beside the spec, the build's progress, the live app, the people. The spec
// panel tells the build panel whether the spec is confirmed; a finished build tells the app panel to
// reload.
//
// The conversation is the idea's agent session: the one this browser used last (remembered per idea),
// else the person's newest conversation on the idea (from any device), else a new one. Build-repair
// sessions (agent type `build`, the platform's) are not conversations to resume.

import { useCallback, useEffect, useState } from 'react';
import { useParams } from 'react-router-dom';
import { ApiError, api } from '../api/client';
import type { Build, Idea, Phase, SessionWithTranscript, SpecView } from '../api/types';
import { useAuth } from '../auth';
import { useLive } from '../live';
import { AppPanel } from '../components/AppPanel';
import { BuildProgress } from '../components/BuildProgress';
import { Collaborators } from '../components/Collaborators';
import { Conversation } from '../components/Conversation';
import { SpecPanel } from '../components/SpecPanel';

const AGENT_FOR_PHASE: Record<Phase, string> = {
  ideation: 'ideation',
  specification: 'spec',
  building: 'build',
  live: 'support',
};

const sessionKey = (ideaId: string) => `vibe.session.${ideaId}`;

/** The id of `userId`'s newest conversation on the idea, if any (none when the list cannot be read). */
async function newestConversation(ideaId: string, userId: string | undefined): Promise<string | null> {
  if (!userId) return null;
  try {
    const sessions = await api.ideaSessions(ideaId);
    return sessions.find((s) => s.user_id === userId && s.agent_type !== 'build')?.id ?? null;
  } catch {
    return null;
  }
}

export function IdeaPage() {
  const { id = '' } = useParams();
  const { subscribe } = useLive();
  const { user } = useAuth();
  const [idea, setIdea] = useState<Idea | null>(null);
  const [phase, setPhase] = useState<Phase>('ideation');
  const [sessionId, setSessionId] = useState<string | null>(null);
  const [cost, setCost] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [specConfirmed, setSpecConfirmed] = useState(false);
  const [lastBuild, setLastBuild] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      try {
        const loaded = await api.idea(id);
        if (cancelled) return;
        setIdea(loaded);
        setPhase(loaded.status);
        document.title = `${loaded.name} · Vibe`;
        const remembered = localStorage.getItem(sessionKey(id)) ?? (await newestConversation(id, user?.id));
        if (remembered) {
          localStorage.setItem(sessionKey(id), remembered);
          setSessionId(remembered);
        } else if (loaded.role !== 'viewer') {
          const session = await api.startSession(id, AGENT_FOR_PHASE[loaded.status]);
          localStorage.setItem(sessionKey(id), session.id);
          if (!cancelled) setSessionId(session.id);
        }
      } catch (failure) {
        if (!cancelled) setError(failure instanceof ApiError ? failure.message : 'Could not open this idea.');
      }
    })();
    return () => {
      cancelled = true;
      document.title = 'Vibe';
    };
  }, [id, user?.id]);

  // Events carry the idea's phase: the page follows it as it moves on.
  useEffect(
    () =>
      subscribe((event) => {
        const next = event.data.phase;
        if (event.idea_id === id && typeof next === 'string' && next in AGENT_FOR_PHASE) setPhase(next as Phase);
      }),
    [subscribe, id],
  );

  const onSession = useCallback((session: SessionWithTranscript) => {
    if (session.phase) setPhase(session.phase);
    setCost(session.credits_consumed);
  }, []);

  const onSpec = useCallback((spec: SpecView | null) => setSpecConfirmed(spec?.confirmed ?? false), []);
  const onBuildFinished = useCallback((build: Build) => {
    setLastBuild(build.id);
    if (build.status === 'succeeded') setPhase('live');
  }, []);

  if (error)
    return (
      <section className="page narrow">
        <h1>Idea</h1>
        <p role="alert">{error}</p>
      </section>
    );
  if (!idea) return <p role="status">Loading…</p>;

  const canWrite = idea.role !== 'viewer';
  const conversation = sessionId ? (
    <Conversation sessionId={sessionId} canWrite={canWrite} subscribe={subscribe} onSession={onSession} />
  ) : (
    <p>No conversation to show yet.</p>
  );

  return (
    <div className={phase === 'ideation' ? 'idea idea-chat' : 'idea idea-dashboard'}>
      <div className="idea-head">
        <h1>{idea.name}</h1>
        <p className="hint">
          Phase: <strong>{phase}</strong> · your role: {idea.role}
          {cost !== null && <> · this conversation cost {cost} credits</>}
        </p>
      </div>
      {phase === 'ideation' ? (
        <>
          {conversation}
          <details className="panel">
            <summary>Share this idea</summary>
            <Collaborators ideaId={idea.id} role={idea.role} />
          </details>
        </>
      ) : (
        <div className="dashboard">
          <div className="dashboard-main">{conversation}</div>
          <div className="dashboard-side">
            <SpecPanel ideaId={idea.id} role={idea.role} subscribe={subscribe} onSpec={onSpec} />
            <BuildProgress
              ideaId={idea.id}
              canBuild={idea.role === 'owner'}
              specConfirmed={specConfirmed}
              subscribe={subscribe}
              onFinished={onBuildFinished}
            />
            <AppPanel ideaId={idea.id} subscribe={subscribe} refresh={lastBuild} />
            <Collaborators ideaId={idea.id} role={idea.role} />
          </div>
        </div>
      )}
    </div>
  );
}
