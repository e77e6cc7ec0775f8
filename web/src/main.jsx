// The console's entry point: esbuild bundles this file, everything it imports and style.css.
import { render } from 'preact';
import { App } from './app.jsx';
import './style.css';

render(<App />, document.getElementById('app'));
