import type { CommandSpec } from "../command.js";

export const mcpCommand: CommandSpec = {
  name: "mcp",
  summary: "Serve spotrun to a coding agent over MCP (stdio): run, status, events, logs, cancel, cost, offers, sessions…",
  examples: [
    "spotrun mcp   # started by the agent; see README, Use it from a coding agent",
    "claude mcp add spotrun -- npx spotrun mcp",
  ],
  async run(ctx) {
    const { openSpotrun } = await import("../../api/spotrun.js");
    const { createMcpServer } = await import("../../mcp/mcp-server.js");
    const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js");
    const { offersCommand } = await import("./offers.js");
    const { downloadCommand } = await import("./download.js");
    const { simulateCommand } = await import("./simulate.js");
    const { sessionStartCommand, sessionListCommand, sessionStopCommand } = await import("./session.js");
    const { setupCommand } = await import("./setup.js");
    const sr = await openSpotrun({ home: ctx.home, logger: ctx.logger });
    const server = createMcpServer(sr, {
      logger: ctx.logger,
      commands: {
        offers: offersCommand,
        download: downloadCommand,
        simulate: simulateCommand,
        sessionStart: sessionStartCommand,
        sessionList: sessionListCommand,
        sessionStop: sessionStopCommand,
        setup: setupCommand,
      },
    });
    const transport = new StdioServerTransport();
    // Serve until the client closes stdin (or a signal arrives).
    const closed = new Promise<void>((done) => {
      transport.onclose = () => done();
      process.stdin.once("end", () => done());
      ctx.signal.addEventListener("abort", () => done(), { once: true });
      process.once("SIGINT", () => done());
    });
    await server.connect(transport);
    await closed;
    await server.close().catch(() => {});
    await sr.close();
    return {};
  },
};
