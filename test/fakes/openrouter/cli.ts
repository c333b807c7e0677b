/**
 * Runs the fake OpenRouter as a process: `tsx test/fakes/openrouter/cli.ts [--port N]`.
 * Prints one line `{"url": …, "apiBase": …}` on stdout once it listens; stops on SIGTERM/SIGINT.
 * `--chunk-delay-ms N` and `--reply-words N` tune the streamed answers.
 */
import { createFakeOpenRouter } from './fake-openrouter.js';

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

const port = Number(flag('port') ?? 0);
const chunkDelayMs = flag('chunk-delay-ms');
const replyWords = flag('reply-words');

const fake = await createFakeOpenRouter({
  port,
  behavior: {
    ...(chunkDelayMs === undefined ? {} : { chunkDelayMs: Number(chunkDelayMs) }),
    ...(replyWords === undefined ? {} : { replyWords: Number(replyWords) }),
  },
});
process.stdout.write(`${JSON.stringify({ url: fake.url, apiBase: fake.apiBase })}\n`);

const stop = () => {
  void fake.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
