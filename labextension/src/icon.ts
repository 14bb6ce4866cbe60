import { LabIcon } from '@jupyterlab/ui-components';

/** A database cylinder, coloured by the theme's icon colour. */
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2C7.6 2 4 3.3 4 5v14c0 1.7 3.6 3 8 3s8-1.3 8-3V5c0-1.7-3.6-3-8-3zm0 2c3.9 0 6 1.1 6 1s-2.1 1-6 1-6-1.1-6-1 2.1-1 6-1zM6 7.4C7.5 8 9.6 8.3 12 8.3s4.5-.3 6-.9V11c0 .1-2.1 1.2-6 1.2S6 11.1 6 11V7.4zm0 6c1.5.6 3.6.9 6 .9s4.5-.3 6-.9V17c0 .1-2.1 1.2-6 1.2S6 17.1 6 17v-3.6z"/>
  </g>
</svg>`;

export const sqlroomsIcon = new LabIcon({
  name: 'sqlrooms-jupyter:sqlrooms',
  svgstr: SVG
});
