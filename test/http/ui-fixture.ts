import { nodeId } from '../../components/network/node-id.js';
import type { NodeUiView } from '../../frontend/ui-state.js';
import { TWO_GROUPS } from './frontend-fixture.js';

/** A read token for the dashboard tests' token file. */
export const UI_TOKEN = 'ui-t0ken-eeeeeeeeeeeeeeee';

/** The dashboard source of node 1 of TWO_GROUPS: its own `/ui/node`, nothing sampled yet. */
export const twoGroupsUi = {
  nodeView: (): NodeUiView => ({
    node: nodeId(1),
    at: Date.now(),
    status: TWO_GROUPS,
    serving: true,
    samples: [],
    events: [],
  }),
  served: () => {},
};
