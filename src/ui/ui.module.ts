import { Module } from '@nestjs/common';
import { UiAssets } from './ui-assets';
import { UiController } from './ui.controller';

/** The small browser page at /ui (API role only). */
@Module({
  controllers: [UiController],
  providers: [UiAssets],
})
export class UiModule {}
