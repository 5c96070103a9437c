// The intermediate's entry: take the original's order and run the intermediate's share of its plan (./steps.ts).
import { receiveOrder } from '../core/session-link.js';
import { Intermediate } from './steps.js';

receiveOrder((order, link) => new Intermediate(order, link).run());
